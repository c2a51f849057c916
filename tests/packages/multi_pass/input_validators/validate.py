import sys

n = int(sys.stdin.read())
sys.exit(42 if 0 <= n < 1000 else 43)
