import sys

from incident_cli.main import main

sys.exit(main())
