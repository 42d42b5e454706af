//! The `mesh-export` command line tool (in progress).

fn main() {}
