#!/usr/bin/python3
"""Test wrapper for an SM driver or a SMAPIv3 script: writes one line to stderr, then runs
<its own path>.real in this same process with the same argv (so a script that dispatches on
basename(argv[0]) still sees its own name). CallLogIT puts it in front of the example LocalfileSR and
the file datapath's Datapath.attach, whose stderr is otherwise empty, to check that a driver's stderr
reaches the daemon's log under the call's dbg."""
import os
import sys

sys.stderr.write("stderr-wrapper: running " + os.path.basename(sys.argv[0]) + " (pid %d)\n" % os.getpid())
sys.stderr.flush()
real = sys.argv[0] + ".real"
with open(real) as f:
    code = compile(f.read(), real, "exec")
# not runpy.run_path: it sets argv[0] to the path it runs
exec(code, {"__name__": "__main__", "__file__": real})
