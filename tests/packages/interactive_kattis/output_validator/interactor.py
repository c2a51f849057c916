import sys

# interactor input answer feedback_dir: answers <, > or = to at most 10 guesses.
secret = int(open(sys.argv[1]).read())
judge = open(sys.argv[3] + "judgemessage.txt", "w")
for guess_number in range(1, 11):
    line = sys.stdin.readline()
    if not line:
        judge.write("the submission stopped guessing\n")
        sys.exit(43)
    guess = int(line)
    if guess == secret:
        print("=", flush=True)
        judge.write(f"found in {guess_number}\n")
        sys.exit(42)
    print("<" if guess < secret else ">", flush=True)
judge.write("more than 10 guesses\n")
sys.exit(43)
