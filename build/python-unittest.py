"""Runs a unittest suite like 'python3 -m unittest discover -s START' and writes its counts as JSON, so build.ps1 reads
the totals from a file instead of unittest's console text.

usage: python3 build/python-unittest.py START_DIR RESULT.json   (exit code 0 when every test passed)
"""

import json
import sys
import unittest


def main(start, result_path):
    sys.path.insert(0, "")  # as 'python3 -m unittest' does: the working directory is importable
    suite = unittest.defaultTestLoader.discover(start)
    result = unittest.TextTestRunner(verbosity=1).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped) + len(result.expectedFailures)
    counts = {
        "ran": result.testsRun,
        "passed": result.testsRun - failed - skipped,
        "failed": failed,
        "skipped": skipped,
        "loadErrors": len(getattr(unittest.defaultTestLoader, "errors", [])),
    }
    with open(result_path, "w", encoding="utf-8") as stream:
        json.dump(counts, stream, indent=2)
        stream.write("\n")
    return 0 if result.wasSuccessful() and counts["ran"] > 0 else 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
