print("Y es" if int(input()) % 2 == 0 else "N o")
