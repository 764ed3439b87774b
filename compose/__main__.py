from compose.cli import main

raise SystemExit(main())
