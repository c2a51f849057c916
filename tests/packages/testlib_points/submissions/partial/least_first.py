xs = list(map(int, input().split()))
m = min(xs)
xs.remove(m)
print(m, *xs)
