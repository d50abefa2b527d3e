#!/usr/bin/perl
# 042_incarnations.t
#	A node that lost its data never gives a dot twice (issue 11 item 1).
#	Four nodes (N=3), a key owned by n2, n3, n4; n3 coordinates a blind
#	write at W=3 (dot n3:1 on every owner).  n2, n3, n4 stop; n3 comes
#	back on the memory engine under the same id, through n1: empty, and
#	no replica it reaches holds the key, so its node id would pick n3:1
#	again.  It must see the loss, dot as an incarnation ("n3~..."), and
#	coordinate a second blind write (n1 standing in, W=2); once n2 and n4
#	are back and the hints delivered, both versions are siblings on every
#	owner.  With the rules before issue 11 the second write got dot n3:1
#	too and one of the two acknowledged writes was lost.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use DynamoTest;
use DynamoCluster qw(start_cluster wait_until wait_converged status_of pending_hints);

my @n = start_cluster(4, n => 3, prefix => 'n');

# a key whose owners are n2, n3 and n4: n1 (the seed n3 comes back
# through) holds nothing of it, so n3's repair cannot bring it back
my $key;
for my $i (0 .. 200)
{
	my $pl = DynamoCluster::preflist($n[0], 'b', "k$i") or next;
	my @own = sort map { $_->{id} } grep { $_->{replica} } @{ $pl->{nodes} // [] };
	if ("@own" eq 'n2 n3 n4') { $key = "k$i"; last }
}
ok(defined $key, 'a key owned by n2, n3 and n4') or BAIL_OUT('no such key');

my ($rc, $out, $err) = $n[2]->cli('put', 'b', $key, 'first', '--w', '3');
is($rc, 0, 'n3 coordinates the first write at W=3') or diag($err);

$_->stop for @n[1, 2, 3];
$n[2]->restart(engine => 'memory');
my $owner = '';
ok(defined wait_until(20, sub { $owner = $n[2]->status->{actors}{owner} // ''; $owner =~ /^n3~/ }),
	"n3, back empty, dots as an incarnation ($owner)");
ok(defined wait_until(10, sub { status_of($n[2], 'n1') eq 'up' && status_of($n[2], 'n2') eq 'down' &&
		status_of($n[2], 'n4') eq 'down' }), 'n3 sees n1 up, the other owners down');
($rc, $out, $err) = $n[2]->cli('put', 'b', $key, 'second', '--w', '2');
is($rc, 0, 'n3 coordinates the second write (n1 stands in): W=2') or diag($err);

$_->restart for @n[1, 3];
ok(wait_converged(\@n, 30), 'the four nodes see each other again');
ok(defined wait_until(30, sub { !grep { pending_hints($_) > 0 } @n }), 'every hint delivered');
for my $i (1, 2, 3)
{
	my $g = $n[$i]->get('b', $key, '--r', '3');
	my @v = sort map { $_->{value} } @{ $g->{siblings} };
	is("@v", 'first second', "R=3 through n" . ($i + 1) . ": both acknowledged writes, as siblings");
}

done_testing();
