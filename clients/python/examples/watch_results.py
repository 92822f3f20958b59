#!/usr/bin/env python3
"""Follow the results edged's triggers store, resuming where the last run stopped.

    PYTHONPATH=clients/python python3 clients/python/examples/watch_results.py --state-file ./last-result-id

Every result has an id (1, 2, 3, ...) and is on disk before it is delivered. This script saves the id of each
result after processing it; on start it subscribes with since=<saved id>, so it gets every result stored while it
was not running, no gap and no duplicate. When edged stops or restarts it reconnects and resumes the same way.
"""

import argparse
import os
import sys
import time
from os.path import abspath, dirname

sys.path.insert(0, dirname(dirname(abspath(__file__))))  # run from a checkout without installing

import edgeruntime  # noqa: E402


def load_last_id(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except FileNotFoundError:
        return None  # first run: only results from now on (use --since 0 for everything stored)


def save_last_id(path, result_id):
    # Write-then-rename: a crash leaves the old id or the new one, never half a number.
    temporary = path + ".tmp"
    with open(temporary, "w") as f:
        f.write("{}\n".format(result_id))
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)


def process(event):
    """Whatever the app does with a result. Here: print it."""
    if not event.ok:
        print("#{} {} failed: {}".format(event.id, event.trigger, event.error))
        return
    summary = ", ".join("{}={:.3f}".format(s["channel"], s["value"]) for s in event.summary)
    print("#{} {} ({}) at {}: {}".format(event.id, event.trigger, event.cause, event.stored_at,
                                         summary or list(event.outputs)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--socket", help="edged's socket (default: $EDGERUNTIME_SOCKET or the daemon's default)")
    parser.add_argument("--state-file", default="last-result-id", help="where the last processed id is kept")
    parser.add_argument("--since", type=int, help="start after this id instead of the saved one")
    parser.add_argument("--trigger", action="append", help="only this trigger's results (repeatable)")
    parser.add_argument("--count", type=int, help="stop after this many results")
    args = parser.parse_args()

    since = args.since if args.since is not None else load_last_id(args.state_file)
    handled, backoff = 0, 0.5
    while args.count is None or handled < args.count:
        try:
            with edgeruntime.connect(args.socket) as client, \
                    client.subscribe(since=since, triggers=args.trigger) as results:
                if results.missed:
                    print("note: {} results after #{} were removed by retention".format(results.missed, since))
                backoff = 0.5
                for event in results:
                    process(event)
                    save_last_id(args.state_file, event.id)
                    since = event.id  # a reconnect resumes after it
                    handled += 1
                    if args.count is not None and handled >= args.count:
                        break
        except ConnectionError as e:  # edged not running, stopping or restarting: wait and resume
            print("{}; retrying in {:.1f} s".format(e, backoff), file=sys.stderr)
            time.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
        except KeyboardInterrupt:
            break


if __name__ == "__main__":
    main()
