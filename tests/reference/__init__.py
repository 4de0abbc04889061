"""Reference implementations the tests compare the interpreter against."""
