# Wrong on the odd-sized short lists (group 1): group 2, which depends on it, scores nothing.
n = int(input())
total = sum(map(int, input().split()[:n]))
print(total + 1 if n in (1, 3) else total)
