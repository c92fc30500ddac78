# Sourced by tests/integration/t_hostile_staging.sh: makes the entries of
# entries.tsv at test time (nothing big or odd lives in git).
#
# make_entry KEY PATH SCRATCH: creates the entry KEY at PATH (inside a
# tenant's incoming/), the way a careless or hostile tenant would; files
# that must first exist elsewhere go to SCRATCH. Regular files are
# written in SCRATCH and renamed in, as tenants are told to, except
# open-writer, which is written in place by a background writer that
# appends a line every 100 ms for WRITER_SECONDS (default 2), then makes
# SCRATCH/writer-closing just before it closes the file; its pid is left
# in WRITER_PID. Returns 1 for an unknown KEY.
make_entry() {
	local key=$1 path=$2 scratch=$3 tmp=$3/.entry.$RANDOM
	mkdir -p -- "$(dirname -- "$path")"
	case $key in
	open-writer)
		(
			exec 3>"$path"
			for _ in $(seq 1 $(( ${WRITER_SECONDS:-2} * 10 ))); do
				echo "id,value" >&3
				sleep 0.1
			done
			: >"$scratch/writer-closing"
		) &
		WRITER_PID=$!
		;;
	empty) : >"$tmp" && mv -- "$tmp" "$path" ;;
	sparse-4T) : >"$tmp" && truncate -s 4T "$tmp" && mv -- "$tmp" "$path" ;;
	unreadable)
		printf 'id,value\n1,x\n' >"$tmp" && chmod 000 "$tmp" &&
			mv -- "$tmp" "$path" ;;
	symlink-out) ln -s /etc/passwd "$path" ;;
	symlink-dangling) ln -s "$scratch/nowhere" "$path" ;;
	symlink-to-dir) ln -s /etc "$path" ;;
	hard-link)
		printf 'id,value\n' >"$scratch/original" && ln -- "$scratch/original" "$path" ;;
	fifo) mkfifo -- "$path" ;;
	socket)
		perl -MIO::Socket::UNIX -e 'IO::Socket::UNIX->new(Local => $ARGV[0],
			Listen => 1) or die "bind $ARGV[0]: $!\n"' "$path" ;;
	char-device) mknod -- "$path" c 1 3 ;;
	hidden) printf 'id,value\n' >"$path" ;;
	future-mtime|hidden-future-mtime)
		# As rsync -t or scp -p from a client whose clock is ahead.
		printf 'id,value\n1,x\n' >"$tmp" &&
			touch -m -d 2099-01-01 "$tmp" && mv -- "$tmp" "$path" ;;
	deep-tree)
		# 2100 levels of "d/": a path past PATH_MAX (4096), built one
		# folder at a time since mkdir -p cannot name it.
		mkdir -- "$path" && perl -e 'chdir $ARGV[0] or die "$ARGV[0]: $!\n";
			for (1 .. 2100) { mkdir "d" and chdir "d" or die "mkdir: $!\n" }
			open(my $f, ">", "x.csv") or die "x.csv: $!\n"' "$path"
		;;
	dir-named-csv) mkdir -- "$path" ;;
	newline|not-utf8|control-chars|leading-dash|name-25[05]*|in-dataset|dataset-odd-name)
		printf 'id,value\n1,x\n' >"$tmp" && mv -- "$tmp" "$path" ;;
	*) return 1 ;;
	esac
}
