//! Running extensions on the QEMU boards (`elfext run --target`), being written.
