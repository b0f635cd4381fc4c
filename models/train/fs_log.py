"""The training tools' log: each message to stdout and appended to a log file
in the run directory; progress lines overwrite each other on a terminal and
are plain lines otherwise (so a redirected log stays readable)."""
import os
import sys


class Log:
    """log = Log(out_dir, "finetune.log"); log("message"); log.progress(line)."""

    def __init__(self, out_dir, name):
        self.path = os.path.join(out_dir, name)
        self.f = open(self.path, "a")
        self.tty = sys.stdout.isatty()
        self.dangling = False  # a progress line without its newline

    def __call__(self, msg):
        """One message: printed (flushed) and appended to the file."""
        self.end_progress()
        print(msg, flush=True)
        self.f.write(msg + "\n")
        self.f.flush()

    def progress(self, line):
        """A progress line: stdout only; on a terminal it replaces the last."""
        if self.tty:
            print("\r" + line, end="", flush=True)
            self.dangling = True
        else:
            print(line, flush=True)

    def end_progress(self):
        """Ends a progress line left open on a terminal."""
        if self.dangling:
            print()
            self.dangling = False

    def close(self):
        self.end_progress()
        self.f.close()
