/* dep_base: an extension that exports a function and a variable to other extensions. */
int base_scale = 3;

int base_value(int x)
{
	return x * base_scale + 1;
}
