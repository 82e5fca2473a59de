int jade_test_support_placeholder(void) { return 0; }
