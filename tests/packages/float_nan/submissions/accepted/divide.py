a, b = map(int, input().split())
if b:
    print(f"{a / b:.7f}")
else:
    print(["-Inf", "NaN", "INF"][(a > 0) - (a < 0) + 1])
