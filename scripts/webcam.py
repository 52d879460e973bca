"""Live hand detection from a webcam: the same as `handdet webcam`.

    python scripts/webcam.py                          # camera 0, shipped weights, 320 px
    python scripts/webcam.py --source clip.mp4 --no-show --save out.mp4 --max-frames 300
    python scripts/webcam.py --tile --tile-overlap 0.2                # small hands far away, a few FPS
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from handdet.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["webcam", *sys.argv[1:]]))
