//! A local emulator of the Mesh Export service (in progress).
