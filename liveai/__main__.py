from liveai.cli import main

raise SystemExit(main())
