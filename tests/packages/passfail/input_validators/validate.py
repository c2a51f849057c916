import re
import sys

text = sys.stdin.read()
if not re.fullmatch(r"-?[0-9]+ -?[0-9]+\n", text):
    sys.exit(43)
if any(abs(int(x)) > 10**7 for x in text.split()):
    sys.exit(43)
sys.exit(42)
