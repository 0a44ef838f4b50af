from slmconvert.cli.app import main

if __name__ == "__main__":  # spawned helper processes import this module too (as __mp_main__)
    main()
