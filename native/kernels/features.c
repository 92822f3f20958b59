/* Which of the library's instruction sets this CPU and OS can run. Compiled for the architecture's baseline, so it
 * runs anywhere the binary loads. */
#include "edge_kernels.h"

#if defined(__x86_64__)
#include <cpuid.h>

static uint64_t read_xcr0(void)
{
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

static uint32_t x64_features(void)
{
    uint32_t eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE))
    {
        return 0;
    }

    /* XMM, YMM, opmask, ZMM0-15 upper halves and ZMM16-31: the OS saves all of them across context switches. */
    const uint64_t zmm_state = 0x2 | 0x4 | 0x20 | 0x40 | 0x80;
    if ((read_xcr0() & zmm_state) != zmm_state || __get_cpuid_max(0, 0) < 7)
    {
        return 0;
    }

    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    int avx512 = (ebx & bit_AVX512F) && (ebx & bit_AVX512BW) && (ebx & bit_AVX512VL);
    return avx512 && (ecx & bit_AVX512VNNI) ? EDK_X64_AVX512_VNNI : 0;
}
#elif defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1UL << 13)
#endif

static uint32_t arm64_features(void)
{
    return (getauxval(AT_HWCAP2) & HWCAP2_I8MM) ? EDK_ARM64_I8MM : 0;
}
#endif

int32_t edk_abi_version(void)
{
    return EDK_ABI_VERSION;
}

uint32_t edk_features(void)
{
#if defined(__x86_64__)
    return x64_features();
#elif defined(__aarch64__)
    return arm64_features();
#else
    return 0;
#endif
}
