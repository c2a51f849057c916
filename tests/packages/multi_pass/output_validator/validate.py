import os
import sys

# Three passes: each asks for the number after the one before. The pass count
# is kept in the feedback directory, which persists between passes.
n = int(open(sys.argv[1]).read())
feedback = sys.argv[3]
state = feedback + "passes_done"
done = int(open(state).read()) if os.path.exists(state) else 0
want = n + done + 1
got = sys.stdin.read().split()
if got != [str(want)]:
    open(feedback + "judgemessage.txt", "a").write(f"pass {done + 1}: got {got}, want {want}\n")
    sys.exit(43)
open(state, "w").write(str(done + 1))
if done + 1 < 3:
    open(feedback + "nextpass.in", "w").write(f"{want}\n")
sys.exit(42)
