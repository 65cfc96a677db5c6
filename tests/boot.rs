//! QEMU boot smoke tests.
