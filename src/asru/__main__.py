from asru.cli import main

main()
