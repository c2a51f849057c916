print("yes" if int(input()) % 2 == 0 else "no")
