import sys

from mediaindex.sample_media import main

sys.exit(main())
