"""``python -m examples.nurture_subscriber --help``"""

from examples.nurture_subscriber.subscriber import main

raise SystemExit(main())
