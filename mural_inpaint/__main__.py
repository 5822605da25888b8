from mural_inpaint.cli import main

raise SystemExit(main())
