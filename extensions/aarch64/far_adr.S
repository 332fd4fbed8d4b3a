// An ADR reaches ±1 MiB: linked against a host symbol placed further away, it must fail
// with a range error naming R_AARCH64_ADR_PREL_LO21.
        .text
        .globl  far_adr
        .type   far_adr, %function
far_adr:
        adr     x0, host_counter
        ret
        .size   far_adr, . - far_adr
