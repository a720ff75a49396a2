import sys

from style_app.cli import main

sys.exit(main())
