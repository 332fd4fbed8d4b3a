/* dep_user: an extension that links against dep_base's exports. */
extern int base_value(int x);
extern int base_scale;

int user_run(int x)
{
	base_scale = x;
	return base_value(x + 1) + base_value(2);
}
