import sys

n = int(sys.stdin.read())
sys.exit(42 if 1 <= n <= 10**18 else 43)
