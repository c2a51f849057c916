lo, hi = 1, 1000
while True:
    mid = (lo + hi) // 2
    print(mid, flush=True)
    reply = input()
    if reply == "=":
        break
    lo, hi = (mid + 1, hi) if reply == "<" else (lo, mid - 1)
