"""``python3 -m tarn.detach``: the process of a run started with
``Client.run(..., detach=True)``.

Reads its arguments as one JSON object on stdin, leaves its starter (a
fork whose parent exits at once, so the starter reaps it and keeps no
zombie) for a session of its own, and runs the project through libtarn.
Once the job is recorded, its id goes as one line to the descriptor the
starter passed (``"fd"``); if the run cannot start (a plan refused), the
line is ``!CODE<TAB>MESSAGE``. The job's log has everything else
(``Client.get_job_logs``)."""

import json
import os
import sys


def main():
    args = json.loads(sys.stdin.read())
    fd = int(args["fd"])
    if os.fork():
        os._exit(0)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(devnull, std)
    try:
        from . import _client
        lake = _client.Lake(args["lake"])
        rc, report, message = lake.run(args["dir"], args["branch"], args["params"], args["strict"],
                                       False, args["no_transaction"], args["preview"],
                                       args["namespace"], fd, bool(args.get("no_cache")))
        if not json.loads(report).get("job_id"):
            os.write(fd, ("!%d\t%s\n" % (rc, message)).encode("utf-8", "replace"))
    except BaseException as e:  # the starter must hear of it, whatever it is
        code = getattr(e, "code", -1)
        os.write(fd, ("!%d\t%s\n" % (code if isinstance(code, int) else -1, e))
                 .encode("utf-8", "replace"))
    os._exit(0)


if __name__ == "__main__":
    main()
