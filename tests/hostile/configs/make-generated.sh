# Sourced by tests/integration/t_hostile_configs.sh: writes into DIR the
# bad tenant profiles that are binary, deep or big, so nothing of the
# kind lives in git (their answers are in expected.tsv, "generated/").
# make_generated DIR
make_generated() {
	local d=$1
	# Every byte from 1 to 255 after a valid first line.
	perl -e 'print "id = \"garbage\";\n", map(chr, 1 .. 255), "\n"' >"$d/garbage.cfg"
	printf 'id = "nul";\n\0batch = {};\n' >"$d/nul.cfg"
	# 20000 nested groups: the parser's stack, not the daemon's.
	perl -e 'print "id = \"deep\";\nx = ", "{ a = " x 20000, "1", " ; }" x 20000, ";\n"' >"$d/deep.cfg"
	printf 'id = "bad\xff";\n' >"$d/notutf8.cfg"
	# A setting with no rule of its own but text: an app's path, a
	# quality rule's value (batchmgr died writing the rules as JSON);
	# and settings with rules (a duration, a dataset), which quote the
	# value refused with the same \xNN.
	printf 'id = "notutf8app";\nbatch = {\n  formats = ["csv"];\n  apps = ( { app = ["/bin/\xffapp"]; timeout = "5\xffs"; datasets = ["d\xe9"]; } );\n  quality = ( { rules = ( { name = "r"; field = "f"; values = ["a\xe9b"]; } ); } );\n};\n' >"$d/notutf8app.cfg"
	# A 100000-byte setting name.
	perl -e 'print "id = \"longname\";\n", "x" x 100000, " = 1;\n"' >"$d/longname.cfg"
}
