"""Count from 1 to 10, one number a second: an ordinary (volatile) Python script.

Stop it with Ctrl-C at 4 or 5, then run it again. Where does it start?
"""

import sys
import time


# #region counter
def add_one(number: int) -> int:
    return number + 1


def count(limit: int = 10) -> int:
    number = 0
    while number < limit:
        number = add_one(number)
        print(number, flush=True)
        time.sleep(1)  # the script's progress lives only in this process
    print(f"Counted to {number}.")
    return number


# #endregion counter

if __name__ == "__main__":
    try:
        count()
    except KeyboardInterrupt:
        # Ctrl-C: the count is gone with the process. Leave without a traceback.
        sys.exit(130)
