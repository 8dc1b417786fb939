from sentinel_board.cli import main

main()
