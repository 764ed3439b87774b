from compose.cli.main import main

raise SystemExit(main())
