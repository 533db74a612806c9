"""The dashboard, for ``streamlit run dashboard.py`` from a checkout.

The page itself is :mod:`sim.app.dashboard` (shipped in the package, so an installed
``sandbox dashboard`` has it too); this file only runs it.
"""

from sim.app.dashboard import main

if __name__ == "__main__":  # Streamlit runs this file as __main__; a spawned worker imports it as __mp_main__
    main()
