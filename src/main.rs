fn main() -> std::process::ExitCode {
    officehours::cli::main()
}
