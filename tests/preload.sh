# preload.sh — sourced by the tests that preload the interposer into other
# programs.  Under --enable-sanitizer=address or thread it cannot be
# preloaded: the sanitizer's runtime must come first and replaces malloc
# itself.  skip_unless_preloadable WHAT exits 77 (automake's SKIP) then,
# with one line saying why.
skip_unless_preloadable() {
    case ${HAK_TEST_SANITIZER:-} in
    address|thread)
        echo "SKIP: $1 under -fsanitize=$HAK_TEST_SANITIZER: the sanitizer's runtime must be loaded first and replaces malloc itself, so the interposer cannot be preloaded"
        exit 77
        ;;
    esac
}
