/* empty.c - a preloadable library that does nothing: shim-test.py puts it in
 * LD_PRELOAD to check that pmnode run keeps an existing LD_PRELOAD. */
int pmn_shim_test_empty(void);
int pmn_shim_test_empty(void)
{
    return 0;
}
