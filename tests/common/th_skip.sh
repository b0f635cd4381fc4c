# th_skip.sh: skips for the shell tests, sourced (POSIX sh and bash). The
# shell side of tests/common/th.h: a test that cannot run here calls
#   th_skip NEED "reason"
# which prints "SKIPPED: reason [needs NEED]" and exits 77 (ctest's
# SKIP_RETURN_CODE), or, when FINSENT_REQUIRE (comma-separated, set by
# scripts/test from what the machine has) lists NEED, says so and exits 1:
# on a machine declared to have NEED the skip is a failure.
th_skip() {
    case ",${FINSENT_REQUIRE:-}," in
    *",$1,"*)
        echo "FAILED (skipped, but FINSENT_REQUIRE lists its need): $2 [needs $1]"
        exit 1
        ;;
    esac
    echo "SKIPPED: $2 [needs $1]"
    exit 77
}
