/* Uses firmware functions with names longer than the 24 bytes a library error keeps. */
extern int firmware_function_with_a_very_long_name_one(int);
extern int firmware_function_with_a_very_long_name_two(int);
extern int host_print(const char *msg);

int use_them(int x)
{
    host_print("x");
    return firmware_function_with_a_very_long_name_one(x) +
           firmware_function_with_a_very_long_name_two(x);
}
