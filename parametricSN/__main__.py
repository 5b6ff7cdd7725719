from parametricSN.cli import main

raise SystemExit(main())
