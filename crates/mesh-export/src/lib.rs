//! The Mesh Export client users depend on (in progress).
