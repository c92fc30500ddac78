/*
 * _mysimbdp_batch: a stream batch's per-message loops in C, for the
 * mysimbdp package (stream.py). The package binds libmysimbdp with ctypes
 * and works without this module; with it, a batch's messages are made,
 * and Batch.ack_all finds and settles the unsettled ones, without a
 * Python call a message. In Python those loops were most of a no-op
 * app's time: 0.3 us of about 0.45 a message (docs/benchmarks.md,
 * "Python"). It talks to no one: the ids and payloads come from the
 * arrays msb_stream_recv_batch filled, and the acks go out through
 * ctypes as before.
 *
 *   MessageBase(stream, id, data)   Message's base: id, data, _stream,
 *                                   settled (False), as Message's slots
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

typedef struct {
	PyObject_HEAD
	PyObject	*m_id;
	PyObject	*m_data;
	PyObject	*m_stream;
	char		 m_settled;
} Message;

static PyTypeObject MessageType;

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
};

/* A message of cls, settled false, holding new references. */
static PyObject *
message_new(PyTypeObject *cls, PyObject *stream, uint64_t id,
    const char *data, Py_ssize_t len)
{
	Message *m = (Message *)cls->tp_alloc(cls, 0);

	if (m == NULL)
		return NULL;
	Py_INCREF(stream);
	m->m_stream = stream;
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
	for (Py_ssize_t k = 0; k < n; k++) {
		PyObject *m;
		int rc;

		if (lens[k] > PY_SSIZE_T_MAX) {
			PyErr_SetString(PyExc_OverflowError,
			    "fill: a payload past PY_SSIZE_T_MAX");
			return NULL;
		}
		/* data is NULL while every payload so far was empty. */
		if (lens[k] > 0 && data == NULL) {
			PyErr_SetString(PyExc_ValueError,
			    "fill: a payload at NULL");
			return NULL;
		}
		m = message_new((PyTypeObject *)cls, stream, ids[k], data,
		    (Py_ssize_t)lens[k]);
		if (m == NULL)
			return NULL;
		rc = PyList_Append(batch, m);
		Py_DECREF(m);
		if (rc < 0)
			return NULL;
		if (lens[k] > 0)	/* NULL + 0 is undefined */
			data += lens[k];
	}
	Py_RETURN_NONE;
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

	if (PyType_Ready(&MessageType) < 0 ||
	    (mod = PyModule_Create(&batch_module)) == NULL)
		return NULL;
	Py_INCREF(&MessageType);
	if (PyModule_AddObject(mod, "MessageBase",
	    (PyObject *)&MessageType) < 0) {
		Py_DECREF(&MessageType);
		Py_DECREF(mod);
		return NULL;
	}
	return mod;
}
