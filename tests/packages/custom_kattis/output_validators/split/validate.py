import sys

# validate.py input answer feedback_dir [flags] < output: any a + b = n
n = int(open(sys.argv[1]).read())
feedback = sys.argv[3]
positive = "positive" in sys.argv[4:]
try:
    a, b = map(int, sys.stdin.read().split())
except ValueError:
    open(feedback + "judgemessage.txt", "w").write("expected two integers\n")
    sys.exit(43)
if a + b != n or (positive and min(a, b) < 1):
    open(feedback + "judgemessage.txt", "w").write(f"{a} + {b} is no split of {n}\n")
    sys.exit(43)
sys.exit(42)
