/*
 * _mysimbdp_batch: a stream batch's per-message loops in C, for the
 * mysimbdp package (stream.py). The package binds libmysimbdp with ctypes
 * and works without this module; with it, a batch's messages are made,
 * and Batch.ack_all finds and settles the unsettled ones, without a
 * Python call a message; and msg.ack() calls the library's
 * msb_stream_ack and counts the message in C. In Python those loops
 * were most of a no-op app's time: 0.3 us of about 0.45 a message
 * (docs/benchmarks.md, "Python"), and an ack a message through ctypes
 * about a microsecond. It talks to no one itself: the ids and payloads
 * come from the arrays msb_stream_recv_batch filled, and the acks go out
 * through the library, msb_stream_ack at the address the package took
 * from ctypes (the protocol stays in libmysimbdp), the rest through
 * ctypes as before.
 *
 *   MessageBase(stream, id, data)   Message's base: id, data, _stream,
 *                                   settled (False), as Message's slots;
 *                                   ack() (below)
 *   Acker(stream, handle, ack)      a Stream's: its library handle, the
 *                                   address of msb_stream_ack and its
 *                                   counts (messages, bytes, errors,
 *                                   ingest ns) with the mark they run
 *                                   from; count(n, bytes, errors),
 *                                   mark(), take(), counts(), close()
 *   msg.ack()                       with the message's stream's Acker
 *                                   open: msb_stream_ack(handle, id),
 *                                   then settled and counted, as the
 *                                   package's Python does; otherwise
 *                                   (no Acker, closed, an id or data of
 *                                   another type) msg._ack(), the Python
 *                                   itself; a failure raises through
 *                                   stream._settle
 *   fill(batch, cls, stream, n, ids, lens, data)
 *                                   appends n cls(stream, ids[k], the
 *                                   lens[k] bytes at data + ...) to batch
 *                                   (a list); ids, lens, data: addresses
 *   unsettled(batch, ids, cap)      writes the ids of batch's unsettled
 *                                   messages to ids (cap of them at most):
 *                                   (a list of them, their payloads' bytes)
 *   settle(messages)                marks every message of the list
 *                                   settled (unsettled's: the batch may
 *                                   have grown while the acks went out)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <stdint.h>
#include <time.h>

typedef int	(*ack_fn)(void *, uint64_t);

/*
 * A Stream's state for ack in C. The counts change only with the GIL
 * held and no Python code run between their reads and writes, so that
 * they change at once for every thread: the Python that takes them
 * (Stream._report) sees a settling whole or not at all.
 */
typedef struct {
	PyObject_HEAD
	const void	*a_stream;	/* its Stream's identity, no reference */
	void		*a_handle;	/* NULL once closed */
	ack_fn		 a_ack;
	unsigned long long a_messages, a_bytes, a_errors;
	long long	 a_ingest_ns;
	long long	 a_mark;	/* CLOCK_MONOTONIC ns: time.monotonic_ns */
} Acker;

typedef struct {
	PyObject_HEAD
	PyObject	*m_id;
	PyObject	*m_data;
	PyObject	*m_stream;
	Acker		*m_acker;	/* its stream's, when it has one */
	char		 m_settled;
} Message;

static PyTypeObject AckerType, MessageType;

/* time.monotonic_ns(): Python reads the same clock. */
static long long
monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
acker_init(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *names[] = { "stream", "handle", "ack", NULL };
	Acker *a = (Acker *)self;
	PyObject *stream;
	unsigned long long handle, ack;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "OKK:Acker", names,
	    &stream, &handle, &ack))
		return -1;
	if (handle == 0 || ack == 0) {
		PyErr_SetString(PyExc_ValueError,
		    "Acker: a handle or ack at NULL");
		return -1;
	}
	a->a_stream = stream;
	a->a_handle = (void *)(uintptr_t)handle;
	a->a_ack = (ack_fn)(uintptr_t)ack;
	a->a_messages = a->a_bytes = a->a_errors = 0;
	a->a_ingest_ns = 0;
	a->a_mark = monotonic_ns();
	return 0;
}

/*
 * n messages of nbytes settled now, errors of them nacked or rejected.
 * Ingest time: from the batch's arrival or the last settling to now, so
 * the samples add up to the time spent on the messages (Stream._count).
 */
static void
acker_add(Acker *a, unsigned long long n, unsigned long long nbytes,
    unsigned long long errors)
{
	long long now = monotonic_ns();

	a->a_messages += n;
	a->a_bytes += nbytes;
	a->a_errors += errors;
	a->a_ingest_ns += now - a->a_mark;
	a->a_mark = now;
}

static PyObject *
acker_count(PyObject *self, PyObject *args)
{
	unsigned long long n, nbytes, errors;

	if (!PyArg_ParseTuple(args, "KKK:count", &n, &nbytes, &errors))
		return NULL;
	acker_add((Acker *)self, n, nbytes, errors);
	Py_RETURN_NONE;
}

static PyObject *
acker_mark(PyObject *self, PyObject *unused)
{
	(void)unused;
	((Acker *)self)->a_mark = monotonic_ns();
	Py_RETURN_NONE;
}

static PyObject *
acker_counts(PyObject *self, PyObject *unused)
{
	Acker *a = (Acker *)self;

	(void)unused;
	return Py_BuildValue("[KKKL]", a->a_messages, a->a_bytes,
	    a->a_errors, a->a_ingest_ns);
}

/* The counts, zeroed when there were messages but for the part of a
 * microsecond of the ingest time, which goes to the next report
 * (Stream._report's). */
static PyObject *
acker_take(PyObject *self, PyObject *unused)
{
	Acker *a = (Acker *)self;
	PyObject *c = acker_counts(self, unused);

	if (c != NULL && a->a_messages != 0) {
		a->a_messages = a->a_bytes = a->a_errors = 0;
		a->a_ingest_ns %= 1000;
	}
	return c;
}

/* Before the library's close: no ack in C goes to a freed stream. */
static PyObject *
acker_close(PyObject *self, PyObject *unused)
{
	(void)unused;
	((Acker *)self)->a_handle = NULL;
	Py_RETURN_NONE;
}

static PyMethodDef acker_methods[] = {
	{ "count", acker_count, METH_VARARGS,
	    "count(n, nbytes, errors): n settled now" },
	{ "mark", acker_mark, METH_NOARGS, "mark(): a batch arrived now" },
	{ "counts", acker_counts, METH_NOARGS,
	    "counts() -> [messages, bytes, errors, ingest_ns]" },
	{ "take", acker_take, METH_NOARGS,
	    "take() -> counts(), zeroed when there were messages" },
	{ "close", acker_close, METH_NOARGS, "close(): the stream closes" },
	{ NULL, NULL, 0, NULL },
};

static PyTypeObject AckerType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "_mysimbdp_batch.Acker",
	.tp_basicsize = sizeof(Acker),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A Stream's handle, msb_stream_ack and counts, for ack.",
	.tp_init = acker_init,
	.tp_new = PyType_GenericNew,
	.tp_methods = acker_methods,
};

/* stream._acker when it is an Acker, else NULL; no exception. */
static Acker *
acker_of(PyObject *stream)
{
	PyObject *a;

	if ((a = PyObject_GetAttrString(stream, "_acker")) == NULL) {
		PyErr_Clear();
		return NULL;
	}
	if (!PyObject_TypeCheck(a, &AckerType) ||
	    ((Acker *)a)->a_stream != stream) {
		Py_DECREF(a);
		return NULL;
	}
	return (Acker *)a;
}

static int
message_init(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *names[] = { "stream", "id", "data", NULL };
	Message *m = (Message *)self;
	PyObject *stream, *id, *data;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO:Message", names,
	    &stream, &id, &data))
		return -1;
	Py_INCREF(stream);
	Py_INCREF(id);
	Py_INCREF(data);
	Py_XSETREF(m->m_stream, stream);
	Py_XSETREF(m->m_id, id);
	Py_XSETREF(m->m_data, data);
	Py_XSETREF(m->m_acker, acker_of(stream));
	m->m_settled = 0;
	return 0;
}

static int
message_traverse(PyObject *self, visitproc visit, void *arg)
{
	Message *m = (Message *)self;

	/* A subclass's type is visited by its own traverse (typeobject.c). */
	Py_VISIT(m->m_id);
	Py_VISIT(m->m_data);
	Py_VISIT(m->m_stream);
	return 0;
}

static int
message_clear(PyObject *self)
{
	Message *m = (Message *)self;

	Py_CLEAR(m->m_id);
	Py_CLEAR(m->m_data);
	Py_CLEAR(m->m_stream);
	Py_CLEAR(m->m_acker);	/* holds no object: not in a cycle */
	return 0;
}

/* A subclass's dealloc drops its reference to its type after this. */
static void
message_dealloc(PyObject *self)
{
	PyObject_GC_UnTrack(self);
	message_clear(self);
	Py_TYPE(self)->tp_free(self);
}

/* m._ack(): the package's ack in Python. */
static PyObject *
ack_in_python(PyObject *self)
{
	return PyObject_CallMethod(self, "_ack", NULL);
}

/*
 * Message.ack in C: what Message._ack does (stream.py), without a
 * Python call. Anything but the common case (no Acker, its stream
 * closed or no longer the message's, an id that is not an int, data
 * that is not bytes) goes to _ack itself, before the library is called.
 */
static PyObject *
message_ack(PyObject *self, PyObject *unused)
{
	Message *m = (Message *)self;
	Acker *a = m->m_acker;
	unsigned long long id;
	PyObject *stream, *r;
	void *handle;
	Py_ssize_t len;
	int rc;

	(void)unused;
	if (a == NULL || a->a_handle == NULL || m->m_stream == NULL ||
	    a->a_stream != m->m_stream || m->m_id == NULL ||
	    !PyLong_CheckExact(m->m_id) || m->m_data == NULL ||
	    !PyBytes_CheckExact(m->m_data))
		return ack_in_python(self);
	id = PyLong_AsUnsignedLongLong(m->m_id);
	if (id == (unsigned long long)-1 && PyErr_Occurred()) {
		PyErr_Clear();	/* out of range: whatever ctypes makes of it */
		return ack_in_python(self);
	}
	handle = a->a_handle;
	/*
	 * Without the GIL, as ctypes calls it: a send may wait up to 2 s
	 * for streammgr. a and the stream are held, as another thread may
	 * change the message meanwhile (its data is read again after).
	 */
	stream = m->m_stream;
	Py_INCREF(stream);
	Py_INCREF(a);
	Py_BEGIN_ALLOW_THREADS
	rc = a->a_ack(handle, id);
	Py_END_ALLOW_THREADS
	if (rc < 0)	/* it raises (check), with the library's message */
		r = PyObject_CallMethod(stream, "_settle", "Oii", self, rc, 0);
	else {
		m->m_settled = 1;
		r = NULL;
		if (m->m_data == NULL)
			PyErr_SetString(PyExc_AttributeError, "data");
		else if ((len = PyBytes_CheckExact(m->m_data) ?
		    PyBytes_GET_SIZE(m->m_data) :
		    PyObject_Length(m->m_data)) >= 0) {
			acker_add(a, 1, (unsigned long long)len, 0);
			Py_INCREF(Py_None);
			r = Py_None;
		}
	}
	Py_DECREF(a);
	Py_DECREF(stream);
	return r;
}

static PyMethodDef message_methods[] = {
	{ "ack", message_ack, METH_NOARGS,
	    "Done: stored, or nothing to store." },
	{ NULL, NULL, 0, NULL },
};

static PyMemberDef message_members[] = {
	{ "id", T_OBJECT_EX, offsetof(Message, m_id), 0, NULL },
	{ "data", T_OBJECT_EX, offsetof(Message, m_data), 0, NULL },
	{ "_stream", T_OBJECT_EX, offsetof(Message, m_stream), 0, NULL },
	{ "settled", T_BOOL, offsetof(Message, m_settled), 0, NULL },
	{ NULL, 0, 0, 0, NULL },
};

static PyTypeObject MessageType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "_mysimbdp_batch.MessageBase",
	.tp_basicsize = sizeof(Message),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE |
	    Py_TPFLAGS_HAVE_GC,
	.tp_doc = "mysimbdp.Message's base: id, data, _stream, settled.",
	.tp_init = message_init,
	.tp_new = PyType_GenericNew,
	.tp_traverse = message_traverse,
	.tp_clear = message_clear,
	.tp_dealloc = message_dealloc,
	.tp_members = message_members,
	.tp_methods = message_methods,
};

/* A message of cls, settled false, holding new references. */
static PyObject *
message_new(PyTypeObject *cls, PyObject *stream, Acker *acker, uint64_t id,
    const char *data, Py_ssize_t len)
{
	Message *m = (Message *)cls->tp_alloc(cls, 0);

	if (m == NULL)
		return NULL;
	Py_INCREF(stream);
	m->m_stream = stream;
	Py_XINCREF(acker);
	m->m_acker = acker;
	if ((m->m_id = PyLong_FromUnsignedLongLong(id)) == NULL ||
	    (m->m_data = PyBytes_FromStringAndSize(data, len)) == NULL) {
		Py_DECREF(m);
		return NULL;
	}
	return (PyObject *)m;
}

static PyObject *
batch_fill(PyObject *self, PyObject *args)
{
	PyObject *batch, *cls, *stream;
	Py_ssize_t n;
	unsigned long long ids_at, lens_at, data_at;
	const uint64_t *ids;
	const size_t *lens;
	const char *data;
	Acker *acker;

	(void)self;
	if (!PyArg_ParseTuple(args, "O!OOnKKK:fill", &PyList_Type, &batch,
	    &cls, &stream, &n, &ids_at, &lens_at, &data_at))
		return NULL;
	if (!PyType_Check(cls) ||
	    !PyType_IsSubtype((PyTypeObject *)cls, &MessageType)) {
		PyErr_SetString(PyExc_TypeError,
		    "fill: cls is not a MessageBase type");
		return NULL;
	}
	ids = (const uint64_t *)(uintptr_t)ids_at;
	lens = (const size_t *)(uintptr_t)lens_at;
	data = (const char *)(uintptr_t)data_at;
	acker = acker_of(stream);
	for (Py_ssize_t k = 0; k < n; k++) {
		PyObject *m;
		int rc;

		if (lens[k] > PY_SSIZE_T_MAX) {
			PyErr_SetString(PyExc_OverflowError,
			    "fill: a payload past PY_SSIZE_T_MAX");
			goto fail;
		}
		/* data is NULL while every payload so far was empty. */
		if (lens[k] > 0 && data == NULL) {
			PyErr_SetString(PyExc_ValueError,
			    "fill: a payload at NULL");
			goto fail;
		}
		m = message_new((PyTypeObject *)cls, stream, acker, ids[k],
		    data, (Py_ssize_t)lens[k]);
		if (m == NULL)
			goto fail;
		rc = PyList_Append(batch, m);
		Py_DECREF(m);
		if (rc < 0)
			goto fail;
		if (lens[k] > 0)	/* NULL + 0 is undefined */
			data += lens[k];
	}
	Py_XDECREF(acker);
	Py_RETURN_NONE;
fail:
	Py_XDECREF(acker);
	return NULL;
}

/* batch's k-th item as a Message, or NULL with TypeError. */
static Message *
item(PyObject *batch, Py_ssize_t k)
{
	PyObject *o = PyList_GET_ITEM(batch, k);

	if (!PyObject_TypeCheck(o, &MessageType)) {
		PyErr_Format(PyExc_TypeError, "a batch of Messages holds %s",
		    Py_TYPE(o)->tp_name);
		return NULL;
	}
	return (Message *)o;
}

/*
 * m's id and payload's length into ids[*n] and *nbytes. Returns 0, or -1
 * with an exception. An id or data the app set to its own type may run
 * Python code: the caller holds m.
 */
static int
take_unsettled(Message *m, uint64_t *ids, Py_ssize_t cap, PyObject *todo,
    Py_ssize_t *nbytes)
{
	Py_ssize_t n = PyList_GET_SIZE(todo);
	unsigned long long id;
	Py_ssize_t len;

	if (m->m_id == NULL || m->m_data == NULL) {
		PyErr_SetString(PyExc_AttributeError,
		    "a Message without its id or data");
		return -1;
	}
	id = PyLong_AsUnsignedLongLong(m->m_id);
	if (id == (unsigned long long)-1 && PyErr_Occurred())
		return -1;
	if ((len = PyObject_Length(m->m_data)) < 0)
		return -1;
	if (n == cap) {
		PyErr_SetString(PyExc_ValueError, "unsettled: more than cap");
		return -1;
	}
	if (PyList_Append(todo, (PyObject *)m) < 0)
		return -1;
	ids[n] = id;
	*nbytes += len;
	return 0;
}

static PyObject *
batch_unsettled(PyObject *self, PyObject *args)
{
	PyObject *batch, *todo;
	Py_ssize_t cap, nbytes = 0;
	unsigned long long ids_at;
	uint64_t *ids;

	(void)self;
	if (!PyArg_ParseTuple(args, "O!Kn:unsettled", &PyList_Type, &batch,
	    &ids_at, &cap))
		return NULL;
	ids = (uint64_t *)(uintptr_t)ids_at;
	if ((todo = PyList_New(0)) == NULL)
		return NULL;
	for (Py_ssize_t k = 0; k < PyList_GET_SIZE(batch); k++) {
		Message *m = item(batch, k);
		int rc;

		if (m == NULL) {
			Py_DECREF(todo);
			return NULL;
		}
		if (m->m_settled)
			continue;
		Py_INCREF(m);
		rc = take_unsettled(m, ids, cap, todo, &nbytes);
		Py_DECREF(m);
		if (rc < 0) {
			Py_DECREF(todo);
			return NULL;
		}
	}
	return Py_BuildValue("(Nn)", todo, nbytes);
}

static PyObject *
batch_settle(PyObject *self, PyObject *args)
{
	PyObject *batch;

	(void)self;
	if (!PyArg_ParseTuple(args, "O!:settle", &PyList_Type, &batch))
		return NULL;
	for (Py_ssize_t k = 0; k < PyList_GET_SIZE(batch); k++) {
		Message *m = item(batch, k);

		if (m == NULL)
			return NULL;
		m->m_settled = 1;
	}
	Py_RETURN_NONE;
}

static PyMethodDef batch_methods[] = {
	{ "fill", batch_fill, METH_VARARGS,
	    "fill(batch, cls, stream, n, ids, lens, data)" },
	{ "unsettled", batch_unsettled, METH_VARARGS,
	    "unsettled(batch, ids, cap) -> (messages, bytes)" },
	{ "settle", batch_settle, METH_VARARGS, "settle(messages)" },
	{ NULL, NULL, 0, NULL },
};

static struct PyModuleDef batch_module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "_mysimbdp_batch",
	.m_doc = "A stream batch's per-message loops in C (mysimbdp.stream).",
	.m_size = -1,
	.m_methods = batch_methods,
};

PyMODINIT_FUNC PyInit__mysimbdp_batch(void);

PyMODINIT_FUNC
PyInit__mysimbdp_batch(void)
{
	PyObject *mod;

	if (PyType_Ready(&AckerType) < 0 || PyType_Ready(&MessageType) < 0 ||
	    (mod = PyModule_Create(&batch_module)) == NULL)
		return NULL;
	Py_INCREF(&AckerType);
	if (PyModule_AddObject(mod, "Acker", (PyObject *)&AckerType) < 0) {
		Py_DECREF(&AckerType);
		Py_DECREF(mod);
		return NULL;
	}
	Py_INCREF(&MessageType);
	if (PyModule_AddObject(mod, "MessageBase",
	    (PyObject *)&MessageType) < 0) {
		Py_DECREF(&MessageType);
		Py_DECREF(mod);
		return NULL;
	}
	return mod;
}
